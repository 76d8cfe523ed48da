"""The ``--llm*`` options of ``discover run`` and building the LLM proposer from them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import click

from discover.errors import UserError

if TYPE_CHECKING:  # the CLI imports this module for the options: keep it light
    from discover.llm.prompt import TaskText
    from discover.llm.proposer import LLMProposer, LLMSettings

DEFAULT_RATIO = 0.3

_OPTIONS = [
    click.option("--llm", "llm", metavar="MODEL", help="Also let this model propose laws (any OpenAI-compatible "
                 "endpoint; key from $OPENAI_API_KEY). Without it the search is GP-only."),
    click.option("--llm-base-url", metavar="URL", help="Endpoint, e.g. http://127.0.0.1:8080/v1 "
                 "(else $OPENAI_BASE_URL, else OpenAI)."),
    click.option("--llm-ratio", type=float, help=f"Share of offspring taken from the LLM when it has some "
                 f"[default: {DEFAULT_RATIO}]."),
    click.option("--llm-budget-tokens", type=int, help="Stop LLM calls after this many tokens (prompt + completion)."),
    click.option("--llm-budget-usd", type=float, help="Stop LLM calls after this many US dollars (see --llm-prices)."),
    click.option("--llm-prices", type=click.Path(dir_okay=False), help="JSON price table overriding the defaults: "
                 "{\"model\": {\"input\": USD, \"output\": USD}} per 1M tokens."),
    click.option("--llm-prompts", type=click.Path(file_okay=False), help="Folder with your own system.md and user.md "
                 "templates (see prompts/)."),
    click.option("--llm-replay", type=click.Path(file_okay=False), help="Answer LLM calls from a previous run's "
                 "stored answers (its run folder), without network."),
    click.option("--llm-concurrency", type=int, default=2, show_default=True, help="LLM calls in flight at once."),
    click.option("--llm-timeout", type=float, default=120.0, show_default=True, help="Seconds before an LLM call "
                 "times out."),
    click.option("--llm-max-tokens", type=int, default=1024, show_default=True, help="Cap on tokens of one answer."),
    click.option("--no-llm", is_flag=True, help="With --resume: go on without the LLM the run used (by default a "
                 "resumed run calls the same model and endpoint again, key from $OPENAI_API_KEY)."),
]


def llm_options(f: Callable) -> Callable:
    """Add the ``--llm*`` options to a click command (they arrive as keyword arguments ``llm*``)."""
    for option in reversed(_OPTIONS):
        f = option(f)
    return f


@dataclass(frozen=True)
class LLMSetup:
    proposer: LLMProposer
    ratio: float
    description: str


def setup_llm(opts: dict, run_dir: str | Path, notify: Callable[[str], None], task=None,
              max_params: int | None = None, resuming: bool = False) -> LLMSetup | None:
    """The proposer the options ask for (None without ``--llm``/``--llm-replay``).

    ``task`` (a TaskSpec) and ``max_params`` default to those of the run in ``run_dir`` (resume).
    A resumed run without ``--llm`` goes on with the model, endpoint, limits and prompts it
    recorded (``llm/settings.json``), unless ``--no-llm``.
    """
    model, replay_dir = opts.get("llm"), opts.get("llm_replay")
    if opts.get("no_llm") and (model or replay_dir or not resuming):
        raise UserError("--no-llm goes with --resume alone (not with --llm or --llm-replay)")
    recorded = None
    if not model and not replay_dir:
        given = [k for k in ("llm_base_url", "llm_ratio", "llm_budget_tokens", "llm_budget_usd", "llm_prices",
                             "llm_prompts") if opts.get(k) is not None]
        if given:
            raise UserError(f"--{given[0].replace('_', '-')} needs --llm MODEL")
        recorded = _recorded_settings(Path(run_dir)) if resuming and not opts.get("no_llm") else None
        if recorded is None:
            return None
        model, opts = recorded["model"], _recorded_options(opts, recorded, Path(run_dir))
        notify(f"resuming with the run's LLM {model} (recorded in {Path(run_dir) / 'llm'}); --no-llm to go on "
               "without it")
    from discover.llm.prompt import TaskText, Templates

    _check(opts)
    run_dir = Path(run_dir)
    if task is None or max_params is None:
        cfg = _read_json(run_dir / "config.json")
        from discover.runner import spec_from_dict

        task = task or spec_from_dict(cfg["task"])
        max_params = max_params or int(cfg["search"]["max_params"])
    text = TaskText(name=task.name, description=task.description, validation=task.validation, test=task.test)
    if replay_dir:
        return _replay(opts, replay_dir, run_dir, notify, text, max_params)
    from discover.llm.budget import Budget, Price, load_prices, price_for
    from discover.llm.client import OPENAI_URL
    from discover.llm.prompt import load_templates
    from discover.llm.proposer import LLMProposer, LLMSettings

    settings = _recorded_llm_settings(recorded) if recorded else LLMSettings(
        model=model, base_url=opts.get("llm_base_url"), concurrency=opts["llm_concurrency"],
        timeout=opts["llm_timeout"], max_tokens=opts["llm_max_tokens"])
    if recorded and isinstance(recorded.get("price"), dict):
        price = Price(**recorded["price"])
    else:
        price = price_for(model, load_prices(opts.get("llm_prices")))
    budget = Budget(opts.get("llm_budget_tokens"), opts.get("llm_budget_usd"), price)
    templates = Templates(**recorded["templates"]) if recorded else load_templates(opts.get("llm_prompts"))
    proposer = LLMProposer(settings, templates, text, max_params, run_dir / "llm", budget, notify)
    if not proposer.client.key_set and urlparse(proposer.client.base_url).hostname == urlparse(OPENAI_URL).hostname:
        raise UserError(f"--llm {model}: OpenAI's endpoint needs a key in $OPENAI_API_KEY (for another "
                        "OpenAI-compatible server, give --llm-base-url or $OPENAI_BASE_URL)")
    ratio = opts["llm_ratio"] if opts.get("llm_ratio") is not None else DEFAULT_RATIO
    limits = [f"{budget.max_tokens:,} tokens" if budget.max_tokens else "",
              f"${budget.max_usd:g}" if budget.max_usd is not None else ""]
    limit = " and ".join(x for x in limits if x)
    return LLMSetup(proposer, ratio, f"LLM {model} at {proposer.client.base_url} for {ratio:.0%} of offspring, "
                                     f"{settings.concurrency} call(s) at a time"
                                     + (f", budget {limit}" if limit else ", no budget limit"))


def _replay(opts: dict, replay_dir: str, run_dir: Path, notify, text: TaskText, max_params: int) -> LLMSetup:
    from discover.llm.budget import Budget
    from discover.llm.prompt import Templates, load_templates
    from discover.llm.proposer import LLMProposer
    from discover.llm.replay import open_replay

    store = open_replay(replay_dir)
    rec = store.read_settings()
    model = rec.get("model", "")
    if opts.get("llm") and opts["llm"] != model:
        raise UserError(f"--llm-replay {replay_dir}: the recorded run used model {model!r}, not {opts['llm']!r}")
    settings = _recorded_llm_settings(rec)
    templates = Templates(**rec["templates"]) if isinstance(rec.get("templates"), dict) else load_templates()
    recorded_ratio = _recorded_ratio(store.folder.parent)
    ratio = opts["llm_ratio"] if opts.get("llm_ratio") is not None else recorded_ratio or DEFAULT_RATIO
    proposer = LLMProposer(settings, templates, text, int(rec.get("max_params", max_params)), run_dir / "llm",
                           Budget(), notify, replay=store)
    return LLMSetup(proposer, ratio, f"LLM {model} replayed from {store.folder} (no network), "
                                     f"{ratio:.0%} of offspring")


def _recorded_settings(run_dir: Path) -> dict | None:
    """The LLM settings a run recorded (None if it used no LLM)."""
    from discover.llm.replay import SETTINGS, CallStore

    store = CallStore(run_dir / "llm")
    if not (store.folder / SETTINGS).is_file():
        return None
    rec = store.read_settings()
    if not rec.get("model") or not isinstance(rec.get("templates"), dict):
        raise UserError(f"{store.folder / SETTINGS}: no model or prompt templates recorded; resume with "
                        "--llm MODEL or --no-llm")
    return rec


def _recorded_llm_settings(rec: dict) -> LLMSettings:
    """The call settings (model, endpoint, limits per call) a run recorded in llm/settings.json."""
    from discover.llm.proposer import LLMSettings

    return LLMSettings(model=rec.get("model", ""), base_url=rec.get("base_url"),
                       concurrency=int(rec.get("concurrency", 2)), timeout=float(rec.get("timeout", 120.0)),
                       max_tokens=int(rec.get("max_tokens", 1024)), per_call=int(rec.get("per_call", 5)))


def _recorded_ratio(run_dir: Path) -> float | None:
    """The share of offspring a run took from its LLM (its config.json), if recorded."""
    return _read_json(run_dir / "config.json", {}).get("search", {}).get("external_ratio")


def _recorded_options(opts: dict, rec: dict, run_dir: Path) -> dict:
    """The ``--llm*`` options of a resumed run that its recorded settings do not carry."""
    return {**opts, "llm": rec["model"], "llm_ratio": _recorded_ratio(run_dir),
            "llm_budget_tokens": rec.get("budget_tokens"), "llm_budget_usd": rec.get("budget_usd")}


def _check(opts: dict) -> None:
    ratio = opts.get("llm_ratio")
    if ratio is not None and not 0 < ratio <= 1:
        raise UserError("--llm-ratio must be in (0, 1]")
    if not 1 <= opts.get("llm_concurrency", 2) <= 64:
        raise UserError("--llm-concurrency must be from 1 to 64")
    for name in ("llm_timeout", "llm_max_tokens", "llm_budget_tokens", "llm_budget_usd"):
        v = opts.get(name)
        if v is not None and v <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive")


def _read_json(path: Path, default: dict | None = None) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        if default is not None:
            return default
        raise UserError(f"{path}: cannot read ({exc})") from None
