/* The big-digit font: 5x5 bitmaps for 0-9, A-Z and the arrow, drawn with block characters
 * and scaled by whole cells, so a ticket number can be read across a hall on any terminal.
 * Our own table rather than figlet's: no dependency, and every glyph is the same width. */
#include "display.h"

/* One glyph: its character and FONT_ROWS rows of FONT_COLS pixels. */
struct font_glyph {
	char c;
	const char *rows[FONT_ROWS];
};

static const struct font_glyph font_table[] = {
	{' ', {"     ", "     ", "     ", "     ", "     "}},
	{'0', {" ### ", "#  ##", "# # #", "##  #", " ### "}},
	{'1', {"  #  ", " ##  ", "  #  ", "  #  ", " ### "}},
	{'2', {"#### ", "    #", " ### ", "#    ", "#####"}},
	{'3', {"#### ", "    #", " ### ", "    #", "#### "}},
	{'4', {"#  # ", "#  # ", "#####", "   # ", "   # "}},
	{'5', {"#####", "#    ", "#### ", "    #", "#### "}},
	{'6', {" ### ", "#    ", "#### ", "#   #", " ### "}},
	{'7', {"#####", "    #", "   # ", "  #  ", "  #  "}},
	{'8', {" ### ", "#   #", " ### ", "#   #", " ### "}},
	{'9', {" ### ", "#   #", " ####", "    #", " ### "}},
	{'A', {" ### ", "#   #", "#####", "#   #", "#   #"}},
	{'B', {"#### ", "#   #", "#### ", "#   #", "#### "}},
	{'C', {" ####", "#    ", "#    ", "#    ", " ####"}},
	{'D', {"#### ", "#   #", "#   #", "#   #", "#### "}},
	{'E', {"#####", "#    ", "#### ", "#    ", "#####"}},
	{'F', {"#####", "#    ", "#### ", "#    ", "#    "}},
	{'G', {" ####", "#    ", "#  ##", "#   #", " ####"}},
	{'H', {"#   #", "#   #", "#####", "#   #", "#   #"}},
	{'I', {"#####", "  #  ", "  #  ", "  #  ", "#####"}},
	{'J', {"  ###", "    #", "    #", "#   #", " ### "}},
	{'K', {"#   #", "#  # ", "###  ", "#  # ", "#   #"}},
	{'L', {"#    ", "#    ", "#    ", "#    ", "#####"}},
	{'M', {"#   #", "## ##", "# # #", "#   #", "#   #"}},
	{'N', {"#   #", "##  #", "# # #", "#  ##", "#   #"}},
	{'O', {" ### ", "#   #", "#   #", "#   #", " ### "}},
	{'P', {"#### ", "#   #", "#### ", "#    ", "#    "}},
	{'Q', {" ### ", "#   #", "# # #", "#  # ", " ## #"}},
	{'R', {"#### ", "#   #", "#### ", "#  # ", "#   #"}},
	{'S', {" ####", "#    ", " ### ", "    #", "#### "}},
	{'T', {"#####", "  #  ", "  #  ", "  #  ", "  #  "}},
	{'U', {"#   #", "#   #", "#   #", "#   #", " ### "}},
	{'V', {"#   #", "#   #", "#   #", " # # ", "  #  "}},
	{'W', {"#   #", "#   #", "# # #", "## ##", "#   #"}},
	{'X', {"#   #", " # # ", "  #  ", " # # ", "#   #"}},
	{'Y', {"#   #", " # # ", "  #  ", "  #  ", "  #  "}},
	{'Z', {"#####", "   # ", "  #  ", " #   ", "#####"}},
	{'-', {"     ", "     ", " ### ", "     ", "     "}},
	{FONT_ARROW, {"  #  ", "   # ", "#####", "   # ", "  #  "}},
};

/* Looks the character up; lower case maps to capitals. */
const char *const *font_glyph(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	for (size_t i = 0; i < sizeof font_table / sizeof font_table[0]; i++)
		if (font_table[i].c == c)
			return font_table[i].rows;
	return NULL;
}

/* Each glyph is FONT_COLS pixels plus a one-pixel gap, except after the last. */
int font_text_cols(int nglyphs, int sx)
{
	if (nglyphs <= 0)
		return 0;
	return (nglyphs * (FONT_COLS + 1) - 1) * sx;
}
