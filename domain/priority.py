"""How soon Temporal serves a lead's workflow, set when it starts: Temporal's priority keys, where
1 is served first and 3 is the default of a start that sets none. A workflow's activities inherit
its key, so a lead that just asked is worked before a list that is being started."""
from __future__ import annotations

HOT = 1  # one lead enrolled through POST /leads, or started by its own event: speed to lead
SCHEDULED = 3  # Temporal's default, for starts that set no priority
BULK = 4  # leads started in bulk (imports) and the import itself: after everything else
