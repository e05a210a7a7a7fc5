"""agentlab.budget"""
