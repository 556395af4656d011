"""The /admin home: today's orders, revenue, disputes due soon, failing work."""
