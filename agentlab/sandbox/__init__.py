"""agentlab.sandbox"""
