"""Each person's archive after the intake: its values derived from its
reports (`values`), written (`store`), reviewed, merged, split, departures confirmed."""
