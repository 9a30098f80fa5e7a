package ui

// cell is one pane's place in the grid.
type cell struct {
	pane       int // index into the pane list
	x, y, w, h int
}

const (
	minFlexHeight = 4  // border + 2 lines: the least a data pane is useful at
	wideColumn    = 90 // cells per column once the terminal is wide
	wideFrom      = 120
	maxColumns    = 4
)

// columnsFor is 1 on narrow terminals and 2+ on wide ones, never more than n.
func columnsFor(w, n int) int {
	cols := 1
	if w >= wideFrom {
		cols = clamp(w/wideColumn, 2, maxColumns)
	}
	return clamp(cols, 1, max(n, 1))
}

// gridRow is one row of panes; height 0 means it shares the spare room.
type gridRow struct {
	panes  []int
	height int
}

// layoutGrid places panes in a w×h area. want[i] > 0 is the fixed height of
// a compact pane (one that only says "unavailable: …"); 0 means the pane
// shows data and takes a share of the room. Data panes fill the grid in
// order; compact panes are packed in rows below them, so a probe that cannot
// run costs a few lines, not half the screen. When not every row fits, the
// rows drawn are a window that includes the focused pane.
func layoutGrid(want []int, w, h, focus int) []cell {
	if len(want) == 0 || w <= 0 || h <= 0 {
		return nil
	}
	var flex, compact []int
	for i, v := range want {
		if v > 0 {
			compact = append(compact, i)
		} else {
			flex = append(flex, i)
		}
	}
	rows := packRows(flex, w, func([]int) int { return 0 })
	rows = append(rows, packRows(compact, w, func(ps []int) int {
		hi := 0
		for _, p := range ps {
			hi = max(hi, want[p])
		}
		return hi
	})...)
	return placeRows(rows, w, h, focus)
}

// placeRows gives rows their heights and places them: fixed rows get
// theirs, the others share the rest. When not every row fits, the rows
// drawn are a window that includes the one holding the focused pane.
func placeRows(rows []gridRow, w, h, focus int) []cell {
	if len(rows) == 0 || w <= 0 || h <= 0 {
		return nil
	}
	focusRow := 0
	for r, row := range rows {
		for _, p := range row.panes {
			if p == focus {
				focusRow = r
			}
		}
	}
	need := func(r int) int {
		if rows[r].height > 0 {
			return rows[r].height
		}
		return minFlexHeight
	}
	a, b := visibleRows(len(rows), focusRow, h, need)

	fixed, nflex := 0, 0
	for _, row := range rows[a : b+1] {
		fixed += row.height
		if row.height == 0 {
			nflex++
		}
	}
	share, extra := 0, 0
	if nflex > 0 {
		share, extra = max(h-fixed, 0)/nflex, max(h-fixed, 0)%nflex
	}
	var cells []cell
	y := 0
	for _, row := range rows[a : b+1] {
		rh := row.height
		if rh == 0 {
			rh = share
			if extra > 0 { // hand out the remainder top-down
				rh++
				extra--
			}
		}
		rh = min(rh, h-y)
		if rh <= 0 {
			break
		}
		k, x := len(row.panes), 0
		for j, p := range row.panes {
			cw := w / k
			if j < w%k {
				cw++
			}
			cells = append(cells, cell{pane: p, x: x, y: y, w: cw, h: rh})
			x += cw
		}
		y += rh
	}
	return cells
}

// packRows puts panes into rows of as many columns as the width allows.
func packRows(panes []int, w int, height func([]int) int) []gridRow {
	cols := columnsFor(w, len(panes))
	var rows []gridRow
	for i := 0; i < len(panes); i += cols {
		ps := panes[i:min(i+cols, len(panes))]
		rows = append(rows, gridRow{panes: ps, height: height(ps)})
	}
	return rows
}

// visibleRows picks the rows [a, b] to draw: from the top as far as they
// fit, or, if that leaves the focused row out, a window ending at it.
func visibleRows(rows, focusRow, h int, need func(int) int) (a, b int) {
	fill := func(a int) int {
		b, used := a, need(a)
		for b+1 < rows && used+need(b+1) <= h {
			b++
			used += need(b)
		}
		return b
	}
	b = fill(0)
	if focusRow <= b {
		return 0, b
	}
	a, used := focusRow, need(focusRow)
	for a-1 >= 0 && used+need(a-1) <= h {
		a--
		used += need(a)
	}
	return a, focusRow
}
