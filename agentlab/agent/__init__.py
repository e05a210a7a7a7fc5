"""agentlab.agent"""
