"""The Instagram gateway: one interface for what the product needs of Instagram.

`gateway` holds the interface and its plain results, `errors` the product's own errors
(every library exception maps to one), `pool` the helper accounts that serve reads,
`simulated` a faithful stand-in used by tests and `autogram chat --demo`.
"""
