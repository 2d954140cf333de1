"""The intake: reports from the six channels -> checked (`records`), placed,
linked (`linkage`), stored (`pipeline`); submissions, routing to review, Excel/CSV imports."""
