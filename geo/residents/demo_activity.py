"""placeholder"""
def simulate(session, actor, *, today, seed):
    return {}
