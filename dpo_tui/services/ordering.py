"""The order a project's items are walked in (`annotate --order`, `assign --order`): the
file's, a seeded shuffle, or uncertain-first by a judge's cards held in the project."""

from __future__ import annotations

from collections.abc import Sequence

from dpo_tui.core.judge_order import ItemOrder, judge_margins, ordered
from dpo_tui.errors import DpoError
from dpo_tui.store.project import ProjectStore

UNCERTAIN_NEEDS = "the uncertain order walks the items a judge is least sure about first"


def chosen_judge(
    store: ProjectStore, judge: str | None = None, needs: str = UNCERTAIN_NEEDS
) -> tuple[str, dict[str, dict[str, list[dict[str, int]]]]]:
    """The judge whose cards order the items (or are shown), and its cards
    (`store.judge_cards`): `judge` (which must have scored items of the project), else the
    project's only one; DpoError saying what to run when there is none (and what `needs`
    a judge), and listing them when there are several."""
    names = store.judge_names()
    path = store.path
    if judge is not None:
        if judge not in names:
            held = ", ".join(names) if names else "none"
            raise DpoError(
                f"{path}: no judge named {judge!r} has scored items here (judges: {held})",
                hint="name one of them with --judge",
            )
        chosen = judge
    elif not names:
        hint = f"run `dpo-tui judge {path}` first"
        if store.meta.assignment_id:  # an annotator's file
            hint += ", or ask your lead for a file made with `dpo-tui assign --with-judge`"
        raise DpoError(
            f"{path}: no judge model has scored its items: {needs}",
            hint=hint,
        )
    elif len(names) > 1:
        raise DpoError(
            f"{path}: {len(names)} judges have scored items here: {', '.join(names)}",
            hint="choose one with --judge NAME",
        )
    else:
        chosen = names[0]
    cards = store.judge_cards(chosen)
    if not cards:
        raise DpoError(
            f"{path}: {chosen} has no scores under the rubric's current version "
            f"({store.rubric_version})",
            hint=f"run `dpo-tui judge {path}` again to score the items under it",
        )
    return chosen, cards


def item_order(
    store: ProjectStore,
    prompt_ids: Sequence[str],
    order: ItemOrder,
    *,
    judge: str | None = None,
    seed: int | str = 0,
) -> list[str]:
    """`prompt_ids` in `order`; `uncertain` by the cards of `chosen_judge(store, judge)`
    (items that judge has not scored last, in the order given)."""
    if order != "uncertain":
        return ordered(prompt_ids, order, seed=seed)
    _, cards = chosen_judge(store, judge)
    return ordered(prompt_ids, order, margins=judge_margins(store.rubric, cards))
