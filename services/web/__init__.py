"""What the web pages show: the week board, its cache, its picture and the links to them."""
