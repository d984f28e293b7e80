"""The users' questions: levers, stress tests, sensitivity, a borough joining, the policy baseline, comparisons."""
