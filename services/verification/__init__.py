"""Who commented where: reading the week's posts on Instagram and the runs that do it."""
