"""``agentlab run``: the pipelines the coordinator fans out (SWE-style and HumanEval).

See docs/coordinator.md. Imports point down only: this package uses agent, llm, sandbox,
tasks, budget and store, and the CLI uses it.
"""
