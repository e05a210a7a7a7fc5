"""agentlab.llm"""
