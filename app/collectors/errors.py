"""Why a collector's container is refused. Each is a 4xx: the input is at fault, and
nothing of it is stored."""

from __future__ import annotations

from app.errors import AppError, BadRequest


class CollectionRefused(BadRequest):
    """A container that is not a usable collection."""

    code = "collection_refused"


class CorruptContainer(CollectionRefused):
    code = "corrupt_container"


class UnsafeContainer(CollectionRefused):
    """Hostile shape: traversal or absolute names, duplicates, a bomb, too many members."""

    code = "unsafe_container"


class EncryptedContainer(CollectionRefused):
    code = "encrypted_container"


class UnknownContainer(CollectionRefused):
    code = "unknown_container"


class MalformedCollection(CollectionRefused):
    """The container opens but the collector's own records in it do not parse."""

    code = "malformed_collection"


class ContainerHashMismatch(AppError):
    """The container is not the one the collector logged: the transfer, not the
    collection, is at fault, so the responder sends it again rather than the vault
    keeping bytes nobody produced."""

    status = 422
    code = "container_hash_mismatch"


class EwfUnavailable(AppError):
    """EWF images need the optional libewf-python (`pip install locard[ewf]`)."""

    status = 501
    code = "ewf_unavailable"
