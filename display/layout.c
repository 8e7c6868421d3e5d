/* Layout: from the terminal's size, where each part goes and how big the digits are. A pure
 * function of (columns, rows, glyphs), so the rules are unit-tested and a resize only means
 * computing it again.
 *
 * Rows, top to bottom: header (site, date, clock), a blank, the big digits, the caption (the
 * call as a sentence), a blank, the panels (recent calls, services, windows), today's mean
 * wait against the target, the status line. The big digits may take at most half the screen
 * and must leave the panels room for a heading and six calls. */
#include "display.h"

#define LAYOUT_MIN_COLS 40
#define LAYOUT_MIN_ROWS 12
#define LAYOUT_FIXED_ROWS 6 /* header, blank, caption, blank, target, status */
#define LAYOUT_MIN_PANEL_ROWS 8
#define LAYOUT_COLUMN_GAP 2

/* Splits the width into n columns with the given shares (percent) and gaps between them. */
static void layout_columns(struct layout *lay, int n, const int *shares)
{
	int usable = lay->cols - 2 - LAYOUT_COLUMN_GAP * (n - 1);
	int x = 1;
	lay->ncolumns = n;
	for (int i = 0; i < n; i++) {
		int w = i == n - 1 ? lay->cols - 1 - x : usable * shares[i] / 100;
		lay->column_x[i] = x;
		lay->column_w[i] = w;
		x += w + LAYOUT_COLUMN_GAP;
	}
}

/* Adds a panel to a column, in drawing order. */
static void layout_panel(struct layout *lay, enum panel_kind kind, int column)
{
	lay->panels[lay->npanels].kind = kind;
	lay->panels[lay->npanels].column = column;
	lay->npanels++;
}

/* Picks the largest pixel that fits: tall enough rows first, then columns, never letting a
 * pixel get more than one and a half times as tall as it is wide (cells are twice as tall as
 * wide, so sx = 2 * sy is square). */
static void layout_digits(struct layout *lay, int budget_rows, int big_glyphs)
{
	int unit_cols = font_text_cols(big_glyphs, 1);
	lay->sx = lay->sy = 0;
	if (unit_cols <= 0)
		return;
	int sx_fit = (lay->cols - 2) / unit_cols;
	for (int sy = budget_rows / FONT_ROWS; sy >= 1; sy--) {
		int min_sx = (3 * sy + 1) / 2;
		if (sx_fit < min_sx)
			continue;
		lay->sy = sy;
		lay->sx = sx_fit < 2 * sy ? sx_fit : 2 * sy;
		return;
	}
	if (sx_fit >= 1 && budget_rows >= FONT_ROWS) {
		lay->sy = 1; /* narrow but still big: better than plain text */
		lay->sx = 1;
	}
}

/* Computes every position for a cols x rows screen. */
void layout_compute(struct layout *lay, int cols, int rows, int big_glyphs)
{
	*lay = (struct layout){0};
	lay->cols = cols;
	lay->rows = rows;
	lay->header_row = 0;
	lay->status_row = rows - 1;
	lay->target_row = rows - 2;
	if (cols < LAYOUT_MIN_COLS || rows < LAYOUT_MIN_ROWS) {
		lay->too_small = true;
		lay->big_top = rows > 2 ? 1 : 0;
		lay->caption_row = lay->big_top;
		lay->target_row = -1;
		return;
	}
	int budget = rows - LAYOUT_FIXED_ROWS - LAYOUT_MIN_PANEL_ROWS;
	if (budget > rows / 2)
		budget = rows / 2;
	layout_digits(lay, budget, big_glyphs);
	lay->big_top = 2;
	lay->big_rows = lay->sy ? FONT_ROWS * lay->sy : 1;
	lay->caption_row = lay->big_top + lay->big_rows;
	lay->panels_top = lay->caption_row + 2;
	lay->panels_rows = lay->target_row - 1 - lay->panels_top;
	if (cols < 60) {
		static const int one[] = {100};
		layout_columns(lay, 1, one);
		layout_panel(lay, PANEL_RECENT, 0);
		layout_panel(lay, PANEL_SERVICES, 0);
	} else if (cols < 120) {
		static const int two[] = {42, 58};
		layout_columns(lay, 2, two);
		layout_panel(lay, PANEL_RECENT, 0);
		layout_panel(lay, PANEL_SERVICES, 1);
		layout_panel(lay, PANEL_WINDOWS, 1);
	} else {
		static const int three[] = {30, 40, 30};
		layout_columns(lay, 3, three);
		layout_panel(lay, PANEL_RECENT, 0);
		layout_panel(lay, PANEL_SERVICES, 1);
		layout_panel(lay, PANEL_WINDOWS, 2);
	}
}
