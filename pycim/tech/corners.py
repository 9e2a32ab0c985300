"""SKY130 process corners the project supports (the PDK library's sections)."""

CORNERS = ("tt", "ff", "ss", "sf", "fs")
