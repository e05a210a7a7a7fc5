"""agentlab.executors"""
