"""python manage.py simulate: scripted customers against the assistant, a pass/fail table, exit status 1 on a fail."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.simulation import (
    SCENARIO_DIR,
    ScenarioError,
    contained,
    engine_settings,
    format_table,
    load_scenarios,
    run_on_demo_data,
    throwaway_database,
)


class Command(BaseCommand):
    help = (
        "Run the simulated customers (chat/simulations/*.json) against the assistant engine and print a pass/fail "
        "table; exit status 1 if any fails. Runs on a Cosmos database and a Django database of its own, both dropped "
        "at the end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--engine", choices=("guided", "llm"), help="default: the configured ASSISTANT_ENGINE")
        parser.add_argument("--scenario", action="append", default=[], metavar="NAME", help="run only this one")
        parser.add_argument(
            "--scripted-model",
            action="store_true",
            help="the LLM engine on a deterministic stand-in for the model (offline, for CI)",
        )
        parser.add_argument("--path", type=Path, default=SCENARIO_DIR, help="the folder of scenario files")

    def handle(self, *args: Any, **options: Any) -> None:
        scripted = options["scripted_model"]
        engine = options["engine"] or ("llm" if scripted else settings.ASSISTANT_ENGINE)
        try:
            scenarios = load_scenarios(options["path"], options["scenario"])
            if not scenarios:
                raise ScenarioError(f"no scenarios in {options['path']}")
            with engine_settings(engine, scripted) as label, throwaway_database(), contained():
                results = asyncio.run(run_on_demo_data(scenarios, label))
        except ScenarioError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(format_table(results))
        if not all(result.passed for result in results):
            sys.exit(1)
