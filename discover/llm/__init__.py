"""LLM proposals: an OpenAI-compatible model proposes law forms that enter the same search.

``client`` talks to the endpoint (retries, timeouts, clear errors), ``prompt`` fills the
templates in ``prompts/``, ``parse_answer`` turns noisy answers into whitelisted expressions,
``budget`` counts tokens and money, ``replay`` stores every request and answer in the run,
``stats`` keeps the counters, ``proposer`` ties them into the search's Proposer protocol,
and ``options`` holds the command-line options that build it.
"""
