"""Analytics: scans of the warehouse export and product exports, report jobs, runner, schedule."""
