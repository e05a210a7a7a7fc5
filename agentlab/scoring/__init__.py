"""agentlab.scoring"""
