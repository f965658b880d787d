"""A worker's wiring: services, routed handler, background loops (see `build`)."""

from orchestration.runtime.build import (
    RuntimeConfig,
    WorkerRuntime,
    build_services,
    open_worker_runtime,
)

__all__ = ["RuntimeConfig", "WorkerRuntime", "build_services", "open_worker_runtime"]
