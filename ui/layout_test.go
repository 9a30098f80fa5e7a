package ui

import "testing"

func TestColumnsFor(t *testing.T) {
	cases := []struct{ w, n, want int }{
		{80, 5, 1}, {119, 5, 1}, {160, 5, 2}, {200, 5, 2}, {270, 5, 3}, {400, 9, 4}, {200, 1, 1}, {200, 0, 1},
	}
	for _, c := range cases {
		if got := columnsFor(c.w, c.n); got != c.want {
			t.Errorf("columnsFor(%d, %d) = %d, want %d", c.w, c.n, got, c.want)
		}
	}
}

// covers checks that cells tile without overlap and stay inside w×h.
func covers(t *testing.T, cells []cell, w, h int) {
	t.Helper()
	used := map[[2]int]bool{}
	for _, c := range cells {
		if c.x < 0 || c.y < 0 || c.x+c.w > w || c.y+c.h > h || c.w <= 0 || c.h <= 0 {
			t.Fatalf("cell %+v outside %dx%d", c, w, h)
		}
		for y := c.y; y < c.y+c.h; y++ {
			for x := c.x; x < c.x+c.w; x++ {
				if used[[2]int{x, y}] {
					t.Fatalf("cells overlap at %d,%d", x, y)
				}
				used[[2]int{x, y}] = true
			}
		}
	}
}

func TestLayoutWideUsesColumns(t *testing.T) {
	cells := layoutGrid([]int{0, 0, 0, 0}, 200, 54, 0)
	covers(t, cells, 200, 54)
	if len(cells) != 4 || cells[1].x != 100 || cells[1].y != 0 || cells[2].y != 27 || cells[0].h != 27 {
		t.Fatalf("2x2 grid expected, got %+v", cells)
	}
	narrow := layoutGrid([]int{0, 0, 0, 0}, 80, 40, 0)
	covers(t, narrow, 80, 40)
	for _, c := range narrow {
		if c.w != 80 {
			t.Fatalf("narrow terminal is one column, got %+v", c)
		}
	}
}

func TestLayoutCompactPanesPackBelow(t *testing.T) {
	// pane 0 unavailable (3 lines), panes 1 and 2 show data.
	cells := layoutGrid([]int{3, 0, 0}, 80, 20, 0)
	covers(t, cells, 80, 20)
	byPane := map[int]cell{}
	for _, c := range cells {
		byPane[c.pane] = c
	}
	if byPane[0].h != 3 || byPane[0].y != 17 || byPane[1].y != 0 || byPane[1].h+byPane[2].h != 17 {
		t.Fatalf("compact pane should take 3 lines at the bottom: %+v", cells)
	}
}

func TestLayoutLastRowStretches(t *testing.T) {
	cells := layoutGrid([]int{0, 0, 0}, 160, 40, 0)
	covers(t, cells, 160, 40)
	if cells[2].w != 160 {
		t.Fatalf("a lone pane in the last row takes the full width: %+v", cells[2])
	}
}

func TestLayoutWindowFollowsFocus(t *testing.T) {
	want := make([]int, 12) // 12 data panes on a short terminal
	cells := layoutGrid(want, 80, 12, 0)
	covers(t, cells, 80, 12)
	if len(cells) != 3 || cells[0].pane != 0 {
		t.Fatalf("first window: %+v", cells)
	}
	cells = layoutGrid(want, 80, 12, 10)
	found := false
	for _, c := range cells {
		found = found || c.pane == 10
	}
	if !found || len(cells) != 3 || cells[len(cells)-1].pane != 10 {
		t.Fatalf("window must include the focused pane: %+v", cells)
	}
}

func TestLayoutGrowsWithProbes(t *testing.T) {
	for n := 1; n <= 9; n++ {
		cells := layoutGrid(make([]int, n), 200, 54, n-1)
		covers(t, cells, 200, 54)
		if len(cells) != n {
			t.Fatalf("%d panes, %d cells", n, len(cells))
		}
	}
}
