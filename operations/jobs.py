"""What operations itself contributes: the housekeeping schedule (see operations.registry)."""

from operations.registry import register_schedules
from operations.schedules import OPERATIONS_SCHEDULES

register_schedules(OPERATIONS_SCHEDULES)
