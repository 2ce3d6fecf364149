"""The real NYC files loaded the way an analyst would, with the example metrics imported.

Shared by the real-data tests and the cross-engine comparison.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from civicloop.accounts.models import User
from civicloop.datasets import services as data_services
from civicloop.datasets.engine.schema import schema_from_descriptor
from civicloop.datasets.models import Dataset, RunStatus
from civicloop.metrics import services
from civicloop.metrics.yamlio import read_folder
from civicloop.organizations.models import Membership, Organization, OrganizationKind, Role, Team
from civicloop.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[3]
REAL = ROOT.parent / "shared" / "data" / "real"
EXAMPLES = ROOT / "examples" / "nyc"

DSNY_EXTRACT_DAY = date(2020, 6, 15)  # the README: the export was taken mid-June 2020


def load_real(slug: str, file: str, schema: str, owner: Organization, **options: object) -> Dataset:
    descriptor = json.loads((EXAMPLES / "schemas" / schema).read_text(encoding="utf-8"))
    dataset = data_services.create_dataset(
        slug=slug, name=slug, owner=owner, schema=schema_from_descriptor(descriptor)
    )
    run = data_services.queue_load(dataset, REAL / file, file, None, **options)  # type: ignore[arg-type]
    run = data_services.run_load_now(run, Warehouse.default())
    assert run.status == RunStatus.SUCCEEDED, [p["text"] for p in run.problems[:5]]
    dataset.refresh_from_db()
    return dataset


def set_up_nyc() -> dict[str, Dataset]:
    """Two departments, their teams, both files, and the example metrics, computed."""
    nypd = Organization.objects.create(name="NYPD", slug="nypd", kind=OrganizationKind.DEPARTMENT)
    dsny = Organization.objects.create(name="DSNY", slug="dsny", kind=OrganizationKind.DEPARTMENT)
    for slug, name, org in (
        ("nyc-public-safety", "NYC public safety", nypd),
        ("nyc-sanitation", "NYC sanitation", dsny),
    ):
        team = Team.objects.create(name=name, slug=slug, purpose=name)
        person = User.objects.create_user(
            email=f"analyst@{org.slug}.example",
            password=None,
            full_name="Analyst",
            organization=org,
        )
        Membership.objects.create(team=team, person=person, role=Role.LEAD)
    datasets = {
        "nypd_shootings": load_real(
            "nypd_shootings", "nypd_shootings_2006_2018.csv", "nypd_shootings.json", nypd
        ),
        "dsny_tonnage": load_real(
            "dsny_tonnage",
            "dsny_monthly_tonnage.csv",
            "dsny_tonnage.json",
            dsny,
            data_as_of=DSNY_EXTRACT_DAY,
        ),
    }
    plan = read_folder(EXAMPLES / "metrics")
    assert not plan.problems, plan.problems
    for path, data in plan.files:
        services.save_definition(data, None, f"Imported from {path.name}")
    services.refresh()
    return datasets
