"""Participation (参与): volunteer teams and members, activities with sign-ups, governance
backbones (治理骨干)."""
