"""A separate process appending to a shared ledger (used by the multi-process test)."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from custody.db import make_engine
from custody.ledger import EventDraft, Ledger
from custody.sequencer import Sequencer
from custody.signing import NoteSigner
from custody.tsa_builtin import BuiltinTSA


def main() -> None:
    db_url, key_path, tsa_dir, origin, name, count, out = sys.argv[1:8]
    engine = make_engine(db_url)
    ledger = Ledger(
        engine, origin, NoteSigner.load(Path(key_path), origin), [BuiltinTSA.load(Path(tsa_dir))]
    )
    seq = Sequencer(ledger, interval=0.02, max_batch=50).start()

    def one(i: int) -> str:
        item = f"{name}-{i % 5}"
        r = seq.append(EventDraft("annotation", name, "collector", {"i": i}, "IR-1", item))
        return json.dumps(r.to_json())

    with ThreadPoolExecutor(max_workers=8) as pool:
        lines = list(pool.map(one, range(int(count))))
    seq.stop()
    Path(out).write_text("\n".join(lines) + "\n")
    engine.dispose()


if __name__ == "__main__":
    main()
