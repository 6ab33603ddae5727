"""`socle matching fit`: re-fit the duplicate model on the referential and the decisions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from sqlalchemy.orm import Session, sessionmaker

from referentials.cli_identity import _factory, console
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from referentials.core.settings import get_settings

if TYPE_CHECKING:
    from matching.model import MatchModel

matching_app = typer.Typer(help="The duplicate-detection model.")


def _rescore(factory: sessionmaker[Session], model: MatchModel, label: str) -> None:
    from identity.duplicates import learning
    from identity.duplicates import service as duplicates

    with session_scope(factory) as session:
        summary = learning.rescore_pending(
            session, SYSTEM, model=model, config=duplicates.current().config, label=label
        )
    typer.echo(
        f"{summary.rescored} open pairs re-scored, {summary.band_changed} changed band, "
        f"{summary.below_review} now below review"
    )


@matching_app.command("fit")
def fit(
    out_dir: Path = typer.Option(
        Path("data/models"), "--out-dir", help="directory of the versioned models"
    ),
    label_weight: float = typer.Option(
        10.0, "--label-weight", min=1.0, help="how many unlabelled pairs one decision is worth"
    ),
    holdout: float = typer.Option(
        0.2, "--holdout", min=0.0, max=0.9, help="share of the decisions kept for the evaluation"
    ),
    rescore: bool = typer.Option(
        False, "--rescore", help="re-score the open pairs of the queue with the new model"
    ),
) -> None:
    """Re-estimate the model by EM on the referential, the officers' decisions as labels."""
    from identity.duplicates import learning, matcher
    from identity.duplicates import service as duplicates

    factory = _factory()
    settings = duplicates.current()
    start = matcher.load_model(settings.model_path)
    with session_scope(factory) as session:
        fitted = learning.fit_model(
            session,
            directory=out_dir,
            start=start,
            config=settings.config,
            label_weight=label_weight,
            holdout=holdout,
        )
    result = fitted.result
    typer.echo(
        f"model v{fitted.version} written to {fitted.path} "
        f"({result.trained_on} decisions used, {result.held_back} held back)"
    )
    for name, figures in result.evaluation.items():
        typer.echo(f"  {name:8s} " + "  ".join(f"{k} {v}" for k, v in figures.items()))
    if rescore:
        _rescore(factory, result.model, fitted.path.name)
    if get_settings().matching.model_file != str(fitted.path):
        console.print(f"to use it: SOCLE_MATCHING__MODEL_FILE={fitted.path}")
