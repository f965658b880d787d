"""The template catalog: what each template is, and its artefacts loaded from package data.

Each template has an internal YAML definition (runs on the step engine) and, for the
spec's n8n workflows, an n8n workflow JSON; for its Make scenarios, a Make blueprint. The
files live in `orchestration/templates/data/` and are read through importlib.resources so
they work from a wheel as well as from the source tree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, cast

from orchestration.workflows.definition import WorkflowDefinition, parse_definition
from shared.errors import NotFoundError, ValidationFailedError

__all__ = [
    "TEMPLATES",
    "Template",
    "find_template",
    "load_data_json",
    "read_data_text",
]

ExportPlatform = Literal["n8n", "make"]
_DATA = "orchestration.templates.data"


def read_data_text(filename: str) -> str:
    return resources.files(_DATA).joinpath(filename).read_text(encoding="utf-8")


def load_data_json(filename: str) -> Any:
    return json.loads(read_data_text(filename))


@dataclass(frozen=True)
class Template:
    name: str  # the definition's name, and the n8n workflow / Make scenario name
    slug: str  # what the CLI accepts besides the name, e.g. lead-qualification
    description: str
    category: str
    definition_file: str
    n8n_file: str | None = None
    make_file: str | None = None

    @property
    def platforms(self) -> list[str]:
        found = ["internal"]
        if self.n8n_file:
            found.append("n8n")
        if self.make_file:
            found.append("make")
        return found

    def definition_yaml(self) -> str:
        return read_data_text(self.definition_file)

    def definition(self) -> WorkflowDefinition:
        """Parsed and validated with the workflow parser (DefinitionError if broken)."""
        return parse_definition(self.definition_yaml(), self.definition_file)

    def export(self, platform: str) -> dict[str, Any]:
        """The platform artefact: n8n workflow JSON or Make blueprint."""
        filename = {"n8n": self.n8n_file, "make": self.make_file}.get(platform)
        if filename is None:
            available = ", ".join(p for p in self.platforms if p != "internal") or "none"
            raise ValidationFailedError(
                f"template '{self.name}' has no {platform} version (exports: {available})"
            )
        return cast(dict[str, Any], load_data_json(filename))

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "slug": self.slug,
            "description": self.description,
            "category": self.category,
            "platforms": self.platforms,
        }


TEMPLATES: tuple[Template, ...] = (
    Template(
        name="AI Lead Qualification Pipeline",
        slug="lead-qualification",
        description=(
            "New prospect webhook: extract Google Business data, score it, find an email, "
            "record the qualification, send leads scoring over 80 to ClickUp."
        ),
        category="qualification",
        definition_file="lead_qualification.yaml",
        n8n_file="lead_qualification.n8n.json",
    ),
    Template(
        name="Churn Prevention Automation",
        slug="churn-prevention",
        description=(
            "Daily: customers with churn probability over 0.7 get a retention plan, a "
            "retention campaign and a follow-up call in 3 days."
        ),
        category="retention",
        definition_file="churn_prevention.yaml",
        n8n_file="churn_prevention.n8n.json",
    ),
    Template(
        name="Real-time ClickUp Synchronization",
        slug="clickup-sync",
        description=(
            "Qualified prospect: ClickUp task with AI qualification custom fields, assigned "
            "by industry, with a follow-up reminder."
        ),
        category="qualification",
        definition_file="clickup_sync.yaml",
        make_file="clickup_sync.make.json",
    ),
    Template(
        name="Multi-Channel Campaign Orchestration",
        slug="campaign-orchestration",
        description=(
            "Health score below threshold: personalised email, SMS two days later, a task "
            "for the account manager, journey stage update."
        ),
        category="retention",
        definition_file="campaign_orchestration.yaml",
        make_file="campaign_orchestration.make.json",
    ),
)


def find_template(name: str) -> Template:
    """By name or slug, case-insensitively; NotFoundError listing the templates."""
    wanted = name.strip().lower()
    for template in TEMPLATES:
        if wanted in (template.name.lower(), template.slug):
            return template
    known = ", ".join(f"'{t.slug}'" for t in TEMPLATES)
    raise NotFoundError(
        f"no template '{name}'; known templates: {known} (`switchboard templates list`)"
    )
