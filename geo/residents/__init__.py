"""Seasonal residents (候鸟): six-channel intake, record linkage, each person's dynamic archive
(动态管理档案) of stays over the seasons, the grid worker's concern log (民情记录本), departures and
the 65+ free health checks (participation only).

Everything a resident's archive says is derived from the reports linked to it: a report is what
one channel said at one time, kept as received. The archive's current values, the provenance of
each value and any conflict between values are recomputed from those reports, so merging two
archives and splitting a wrong merge are both just moving reports.
"""
