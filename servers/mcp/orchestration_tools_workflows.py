"""The orchestration server's workflow tools: list, read, install a template, create or
update (validated YAML, versioned), activate or pause, and run one by hand (or dry-run it).

Each tool is a thin shell over orchestration.workflows (store, triggers, definition) and
orchestration.templates; the tenant always comes from the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestration.platforms.tools import load_tenant_tools
from orchestration.templates.catalog import TEMPLATES, find_template
from orchestration.templates.install import install_on
from orchestration.workflows.errors import DefinitionError
from orchestration.workflows.store import (
    SaveResult,
    StoredDefinition,
    get_definition,
    list_definitions,
    save_definition,
    set_active,
)
from orchestration.workflows.triggers import trigger_workflow as queue_workflow_run
from servers.mcp.common.budget import NOTE_RESERVE, fit_count
from servers.mcp.common.errors import tool_errors
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import READ_ONLY, ToolSpec
from servers.mcp.orchestration_models import (
    TemplateInstallOut,
    TemplateOut,
    TriggerOut,
    WorkflowDetailOut,
    WorkflowListOut,
    WorkflowSavedOut,
    WorkflowSummaryOut,
)
from servers.mcp.orchestration_tools_common import (
    Approval,
    ask_unless_confirmed,
    cipher_of,
    platform_access,
    require_approval,
    tenant_of,
)
from servers.mcp.orchestration_tools_dryrun import dry_routing, dry_steps

__all__ = ["WORKFLOW_TOOLS"]

NOT_FOUND_HINT = "list_workflows shows the workspace's workflows"
MAX_YAML = 100_000
READ = READ_ONLY
INSTALL = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
)
SAVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
WorkflowRef = Annotated[
    str, Field(min_length=1, max_length=200, description="Workflow name or id (list_workflows)")
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(stored: StoredDefinition) -> WorkflowSummaryOut:
    d = stored.definition
    return WorkflowSummaryOut(
        id=str(stored.id),
        name=d.name,
        version=stored.version,
        is_active=d.is_active,
        category=d.category,
        trigger_type=d.trigger.type,
        primary_platform=d.primary_platform,
        fallback_platform=d.fallback_platform,
        step_count=len(d.steps),
        updated_at=_iso(stored.updated_at),
    )


def _definition_error(exc: DefinitionError) -> ToolError:
    lines = "; ".join(str(p) for p in exc.problems)
    return ToolError(
        f"the workflow definition was not saved: {lines}. Fix these lines in the YAML and call "
        "again; get_workflow shows a valid definition to copy from"
    )


async def list_workflows(
    ctx: Context[AppState, Any],
    active_only: Annotated[bool, Field(description="Only active workflows")] = False,
) -> WorkflowListOut:
    """The workspace's workflow definitions: name, id, version, active or paused, trigger
    type, platforms and step count. Next: get_workflow for one definition's steps and YAML,
    list_executions to see how a workflow has been running."""
    state, caller = await tenant_of(ctx)
    with tool_errors():
        found = await list_definitions(state.database, caller.tenant_id, active_only=active_only)
    items = [_summary(s) for s in found]

    def render(kept: Any) -> WorkflowListOut:
        return WorkflowListOut(workflows=list(kept), total=len(items))

    fits = fit_count(items, render, state.settings.result_budget_chars - NOTE_RESERVE)
    out = render(items[:fits])
    if fits < len(items):
        out.truncated = True
        out.truncation_note = f"{len(items) - fits} workflows left out; pass active_only: true"
    return out


async def get_workflow(ctx: Context[AppState, Any], workflow: WorkflowRef) -> WorkflowDetailOut:
    """One workflow definition: trigger, platforms, every step with its action, condition
    and fields, and the whole definition as YAML (edit it and pass it to update_workflow)."""
    state, caller = await tenant_of(ctx)
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        stored = await get_definition(state.database, caller.tenant_id, workflow)
    d = stored.definition
    return WorkflowDetailOut(
        **_summary(stored).model_dump(),
        description=d.description,
        trigger=d.trigger.model_dump(mode="json", exclude_none=True),
        steps=[s.to_document() for s in d.steps],
        yaml=stored.source_yaml or d.to_yaml(),
    )


async def _save(ctx: Context[AppState, Any], yaml_text: str) -> SaveResult:
    state, caller = await tenant_of(ctx)
    try:
        with tool_errors():
            return await save_definition(
                state.database, caller.tenant_id, yaml_text, source_name="yaml", actor=caller.actor
            )
    except ToolError as exc:
        if isinstance(exc.__cause__, DefinitionError):
            raise _definition_error(exc.__cause__) from exc.__cause__
        raise


def _saved(result: SaveResult) -> WorkflowSavedOut:
    return WorkflowSavedOut(
        workflow=_summary(result.stored), created=result.created, changed=result.changed
    )


YamlText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_YAML,
        description="The definition as YAML: name, trigger, steps (see get_workflow)",
    ),
]


async def create_workflow(ctx: Context[AppState, Any], yaml: YamlText) -> WorkflowSavedOut:
    """Create a workflow from a YAML definition (name, trigger, primary_platform, steps with
    action and optional condition). It is validated first: each problem comes back with its
    YAML line and reason. A workflow with the same name must not exist (use update_workflow).
    A new workflow is active unless the YAML says `is_active: false`."""
    state, caller = await tenant_of(ctx)
    name = _name_in(yaml)
    if name is not None:
        with tool_errors():
            stored = await list_definitions(state.database, caller.tenant_id)
        existing = {s.name for s in stored}
        if name in existing:
            raise ToolError(
                f"a workflow named '{name}' already exists; change it with update_workflow, or "
                "give this one another name"
            )
    return _saved(await _save(ctx, yaml))


async def update_workflow(
    ctx: Context[AppState, Any], workflow: WorkflowRef, yaml: YamlText
) -> WorkflowSavedOut:
    """Replace an existing workflow's definition with new YAML (validated like
    create_workflow). A changed definition gets the next version; identical YAML changes
    nothing (`changed: false`). Running executions keep the steps they started with."""
    state, caller = await tenant_of(ctx)
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        current = await get_definition(state.database, caller.tenant_id, workflow)
    name = _name_in(yaml)
    if name is not None and name != current.name:
        raise ToolError(
            f"the YAML names '{name}' but you are updating '{current.name}'; keep the name (a "
            "rename is a new workflow: create_workflow)"
        )
    return _saved(await _save(ctx, yaml))


def _name_in(yaml_text: str) -> str | None:
    """The definition's name when the YAML parses (validation proper happens on save)."""
    import yaml

    try:
        data: Any = yaml.safe_load(yaml_text)
    except yaml.YAMLError:
        return None
    name: Any = cast("dict[str, Any]", data).get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


async def install_template(
    ctx: Context[AppState, Any],
    template: Annotated[
        str | None,
        Field(max_length=200, description="Template slug or name; omit to list the templates"),
    ] = None,
    platform: Annotated[
        Literal["internal", "n8n", "make"],
        Field(
            description="internal: the step engine; n8n / make: also create (or update) and "
            "activate it in the workspace's n8n or Make, with internal as fallback"
        ),
    ] = "internal",
) -> TemplateInstallOut:
    """Install a pre-built workflow (the spec's lead qualification, churn prevention,
    ClickUp sync, multi-channel campaign) on the internal engine, or in the workspace's n8n
    or Make (configured with configure_tool). Without `template`, only lists the templates
    (slug, name, category, platforms). Installing again updates in place: nothing is
    created twice."""
    templates = [TemplateOut(**t.summary()) for t in TEMPLATES]
    if template is None:
        return TemplateInstallOut(templates=templates)
    state, caller = await tenant_of(ctx)
    with tool_errors(not_found_hint="call install_template without arguments to list them"):
        found = find_template(template)
        if platform == "internal":
            result = await install_on(
                state.database, caller.tenant_id, found, platform, None, actor=caller.actor
            )
        else:
            access = platform_access(ctx)
            async with access.client_factory() as client:
                tools = await load_tenant_tools(
                    state.database, cipher_of(state), caller.tenant_id, client,
                    registry=access.registry,
                )  # fmt: skip
                result = await install_on(
                    state.database, caller.tenant_id, found, platform, tools, actor=caller.actor
                )
    return TemplateInstallOut(
        templates=templates,
        installed=_saved(result.saved),
        platform=result.platform,
        platform_refs=result.platform_refs,
    )


def _pause_approval(
    ctx: Context[AppState, Any], workflow: str, active: bool, confirm: bool = False
) -> Any:
    if active:
        return Approval(approve=True)  # activating needs no confirmation
    return ask_unless_confirmed(
        ctx, confirm, f"Pause workflow '{workflow}'? It stops reacting until activated again."
    )


_NOT_ASKED: Any = None  # filled by the resolver before the tool body runs


async def set_workflow_active(
    ctx: Context[AppState, Any],
    workflow: WorkflowRef,
    active: Annotated[bool, Field(description="true: activate; false: pause")],
    confirm: Annotated[
        bool, Field(description="Must be true to pause a workflow (it stops reacting)")
    ] = False,
    approval: Annotated[ElicitationResult[Approval], Resolve(_pause_approval)] = _NOT_ASKED,
) -> WorkflowSummaryOut:
    """Activate or pause a workflow. A paused workflow ignores its trigger until activated
    again; pausing needs `confirm: true` (or the user's yes, where the client can ask).
    Activating re-checks that its emit_event chain does not loop through other active
    workflows."""
    state, caller = await tenant_of(ctx)
    if not active:
        require_approval(
            approval,
            f"pausing '{workflow}' stops it reacting to its trigger until it is activated again",
        )
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        stored = await set_active(
            state.database, caller.tenant_id, workflow, active, actor=caller.actor
        )
    return _summary(stored)


async def trigger_workflow(
    ctx: Context[AppState, Any],
    workflow: WorkflowRef,
    input: Annotated[
        dict[str, Any] | None,
        Field(description="The run's input; steps read it as event.* (and at the top level)"),
    ] = None,
    dry_run: Annotated[
        bool, Field(description="true: only show the routing and steps; nothing runs or is saved")
    ] = False,
    event_id: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="Repeat-safe id: a repeat is ignored"),
    ] = None,
) -> TriggerOut:
    """Run a workflow now with the given input (queued like any event: durable, retried).
    With `dry_run: true` nothing is queued or written: the answer shows which platform the
    run would go to and why, and for each step whether its condition holds for this input.
    Next: get_execution / list_executions (workflow=...) to follow a real run."""
    state, caller = await tenant_of(ctx)
    data = input or {}
    if dry_run:
        with tool_errors(not_found_hint=NOT_FOUND_HINT):
            stored = await get_definition(state.database, caller.tenant_id, workflow)
        return TriggerOut(
            workflow=stored.name,
            dry_run=True,
            routing=await dry_routing(ctx, stored),
            steps=dry_steps(stored, data, caller.tenant_id),
            next_step="call again without dry_run to run it"
            + ("" if stored.definition.is_active else " (activate it first: set_workflow_active)"),
        )
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        result = await queue_workflow_run(
            state.database, caller.tenant_id, workflow, data, event_id=event_id
        )
        stored = await get_definition(state.database, caller.tenant_id, workflow)
    return TriggerOut(
        workflow=stored.name,
        dry_run=False,
        queue_id=str(result.queue_id),
        event_id=event_id,
        duplicate=result.duplicate,
        next_step=f"list_executions with workflow '{stored.name}' shows the run once a worker "
        "picks it up",
    )


def _spec(fn: Any, title: str, access: ToolAccess, annotations: ToolAnnotations) -> ToolSpec:
    return ToolSpec(fn=fn, title=title, access=access, annotations=annotations)


WORKFLOW_TOOLS = [
    _spec(list_workflows, "List workflows", ToolAccess.READ, READ),
    _spec(get_workflow, "Get a workflow definition", ToolAccess.READ, READ),
    _spec(
        install_template,
        "Install a workflow template",
        ToolAccess.ADMIN,
        # Re-installing replaces the definition with the template's (destructive, idempotent);
        # on n8n or Make it creates a workflow there (open world).
        INSTALL,
    ),
    _spec(
        create_workflow,
        "Create a workflow (YAML)",
        ToolAccess.ADMIN,
        ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    ),
    _spec(update_workflow, "Update a workflow (YAML)", ToolAccess.ADMIN, SAVE),
    _spec(set_workflow_active, "Activate or pause a workflow", ToolAccess.ADMIN, SAVE),
    _spec(
        trigger_workflow,
        "Run a workflow now (or dry-run it)",
        ToolAccess.WRITE,
        # A run may call external platforms and create records there (open world).
        ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    ),
]
