"""Review: which validated orders a person approves first, which are refused, and holds.

- `facts`: the facts rules test, typed and ranged, read for many orders at once;
- `conditions`: a rule's condition tree: checked, evaluated, said in words;
- `evaluate`: the rules asked about an order (recorded as a RuleEvaluation), and the backtest;
- `holds`: an order waiting for approval: opened, assigned, resolved, expired at its deadline.
"""
