"""agentlab.tasks"""
