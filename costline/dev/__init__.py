"""Local servers, the demo and the test harness. Never imported by streams/ or billing/."""
