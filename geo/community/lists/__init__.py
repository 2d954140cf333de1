"""需求清单 / 资源清单: what a community's residents need, what can be offered, and matching."""
