"""The workspace: one deployment's state on disk (``SAFEMAP_HOME``, default ``./workspace``).

This module is an I/O edge: it resolves paths and reads/writes ``safemap.toml``.
Nothing else in ``geo`` reads the environment.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from geo.errors import WorkspaceError

CONFIG_NAME = "safemap.toml"
DEFAULT_HOME = "workspace"


@dataclass(frozen=True)
class WorkspaceConfig:
    """Settings of one deployment, read from ``<workspace>/safemap.toml``.

    Attributes
    ----------
    boundary_set : str
        Name of the boundary set every feed is assigned to.
    h3_resolution : int
        H3 resolution of the cell layers (0-15; 8 is about 0.7 km2 a cell).
    pseudonym_key : str
        Secret key (hex) of the keyed hash that replaces person ids at ingestion.
    retention_days : int
        Raw check-ins and person-level rows older than this are purged.
    suppression_threshold : int
        Public H3 counts below this are shown as a range ("1-5") or hidden.
    """

    boundary_set: str = "bac-ninh-2021"
    h3_resolution: int = 8
    pseudonym_key: str = field(default="", repr=False)
    retention_days: int = 30
    suppression_threshold: int = 6

    def __post_init__(self) -> None:
        if not 0 <= self.h3_resolution <= 15:
            raise WorkspaceError(
                f"h3_resolution is {self.h3_resolution} in {CONFIG_NAME}; expected 0-15 (default 8)"
            )
        if self.retention_days < 1:
            raise WorkspaceError(
                f"retention_days is {self.retention_days} in {CONFIG_NAME}; expected at least 1"
            )


@dataclass(frozen=True)
class Workspace:
    """Paths of a workspace directory and its configuration."""

    root: Path
    config: WorkspaceConfig

    @property
    def events(self) -> Path:
        """Accepted rows, one Parquet file per ingested batch, per feed."""
        return self.root / "events"

    @property
    def rejects(self) -> Path:
        """Rejected rows with their reasons, per feed."""
        return self.root / "rejects"

    @property
    def boundaries(self) -> Path:
        """Boundary sets imported by this deployment."""
        return self.root / "boundaries"

    @property
    def cube_path(self) -> Path:
        """The date x commune cube (NetCDF)."""
        return self.root / "cube.nc"

    @property
    def published(self) -> Path:
        """What the web app serves."""
        return self.root / "published"

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the app database (``SAFEMAP_DATABASE_URL`` overrides)."""
        return os.environ.get("SAFEMAP_DATABASE_URL") or f"sqlite:///{self.root / 'app.db'}"


def resolve_home(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the workspace directory: ``path``, else ``$SAFEMAP_HOME``, else ``./workspace``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("SAFEMAP_HOME", DEFAULT_HOME))


def open_workspace(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Workspace:
    """Open (and by default create) a workspace, generating its pseudonym key once.

    Parameters
    ----------
    path : path-like, optional
        Workspace directory; defaults to ``$SAFEMAP_HOME`` or ``./workspace``.
    create : bool
        Create the directory and a fresh ``safemap.toml`` when missing.

    Raises
    ------
    WorkspaceError
        When the directory is missing and ``create`` is false, or the config is invalid.
    """
    root = resolve_home(path)
    cfg_path = root / CONFIG_NAME
    if not cfg_path.exists():
        if not create:
            raise WorkspaceError(
                f"no workspace at {root} ({CONFIG_NAME} missing); "
                "create one with 'safemap demo' or 'safemap ingest', or pass --workspace"
            )
        root.mkdir(parents=True, exist_ok=True)
        key = os.environ.get("SAFEMAP_PSEUDONYM_KEY") or secrets.token_hex(32)
        cfg_path.write_text(
            "# safemap workspace configuration\n"
            'boundary_set = "bac-ninh-2021"\n'
            "h3_resolution = 8\n"
            "retention_days = 30\n"
            "suppression_threshold = 6\n"
            "# secret of the keyed hash applied to person ids; never share or commit it\n"
            f'pseudonym_key = "{key}"\n',
            encoding="utf-8",
        )
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"{cfg_path} is not valid TOML: {exc}") from exc
    known = set(WorkspaceConfig.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise WorkspaceError(
            f"unknown settings {sorted(unknown)} in {cfg_path}; allowed: {sorted(known)}"
        )
    return Workspace(root=root, config=WorkspaceConfig(**raw))
