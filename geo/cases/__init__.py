"""Cases: the three-tier closed loop (网格即时办 -> 社区协调办 -> 街道吹哨办) on a 48-hour clock."""
