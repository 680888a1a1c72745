"""Ledger tables. The database is an index over the WORM store, never the authority."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from custody.types import UtcDateTime


class LedgerEvent(SQLModel, table=True):
    __tablename__ = "ledger_events"

    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    chain_key: str = Field(sa_column=Column(String(160), nullable=False))
    type: str = Field(sa_column=Column(String(64), nullable=False))
    case: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    item: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    actor_id: str = Field(sa_column=Column(String(128), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    canonical: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    #: size of the first checkpoint that covers this event
    sealed_in: int = Field(sa_column=Column(BigInteger, nullable=False))

    __table_args__ = (
        Index("ix_ledger_events_chain", "chain_key", "leaf_index"),
        Index("ix_ledger_events_case", "case", "leaf_index"),
        Index("ix_ledger_events_item", "item", "leaf_index"),
    )


class TreeNode(SQLModel, table=True):
    """Hash of the complete aligned subtree covering leaves [index·2^level, (index+1)·2^level)."""

    __tablename__ = "tree_nodes"

    level: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class ChainHead(SQLModel, table=True):
    """Latest leaf of each per-item chain, so sealing needs no scan to fill `prev`."""

    __tablename__ = "chain_heads"

    chain_key: str = Field(sa_column=Column(String(160), primary_key=True))
    leaf_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class CheckpointRow(SQLModel, table=True):
    __tablename__ = "checkpoints"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    #: number of configured TSAs still owed a token for this checkpoint
    tokens_pending: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


class TimestampRow(SQLModel, table=True):
    __tablename__ = "timestamps"

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_size: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    tsa: str = Field(sa_column=Column(String(128), nullable=False))
    tsr: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    gen_time: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    chain_pem: str = Field(sa_column=Column(Text, nullable=False))

    __table_args__ = (Index("ux_timestamps_cp_tsa", "checkpoint_size", "tsa", unique=True),)


class VaultKey(SQLModel, table=True):
    """Public keys as published by `/v1/keys`. The audit checks them against the key directory,
    so a key swapped in the database is caught rather than served."""

    __tablename__ = "vault_keys"

    name: str = Field(sa_column=Column(String(160), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


class CosignatureRow(SQLModel, table=True):
    """A witness's tlog-cosignature/v1 line on a checkpoint (C2SP tlog-witness)."""

    __tablename__ = "cosignatures"

    checkpoint_size: int = Field(
        sa_column=Column(BigInteger, primary_key=True, autoincrement=False)
    )
    #: the witness's vkey: name and key ID identify its line, the key checks it
    witness: str = Field(sa_column=Column(String(255), primary_key=True))
    line: str = Field(sa_column=Column(Text, nullable=False))
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
