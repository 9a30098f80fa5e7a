package packet

// The capture's flow tables are open addressing with linear probing, and
// a deletion shifts the entries after it back rather than leaving a
// tombstone. A Go map under the churn of a full table (a delete and an
// insert for every new flow) filled with tombstones, and probing them was
// 29% of the capture's CPU under a flood of new flows; these tables cost
// the same however long they churn.

// flowIndex finds a batcher's slots by their key hash. An entry is the
// slot index in its low 32 bits and the hash's high 32 bits above, so a
// lookup that misses (every packet of a flow storm) never touches the
// slots; 0 is empty. The table is at most half full.
type flowIndex struct {
	tab []uint64
	n   int
}

func indexEntry(si int32, h uint64) uint64 { return h&^(1<<32-1) | uint64(uint32(si)) }

// find is the slot of flow k, whose hash is h, or 0.
func (c *Batcher) find(k *flowKey, h uint64) int32 {
	x := &c.index
	if len(x.tab) == 0 {
		return 0
	}
	mask := uint64(len(x.tab) - 1)
	tag := h &^ (1<<32 - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.tab[i]
		if e == 0 {
			return 0
		}
		if e&^(1<<32-1) == tag {
			if si := int32(uint32(e)); c.slots[si].key.same(k) {
				return si
			}
		}
	}
}

// insert indexes slot si (not indexed yet), growing the table as needed.
func (c *Batcher) insert(si int32) {
	x := &c.index
	if 2*(x.n+1) > len(x.tab) {
		old := x.tab
		x.tab, x.n = make([]uint64, max(64, 2*len(old))), 0
		for _, o := range old {
			if o != 0 {
				c.place(int32(uint32(o)))
			}
		}
	}
	c.place(si)
}

func (c *Batcher) place(si int32) {
	x := &c.index
	mask := uint64(len(x.tab) - 1)
	h := c.slots[si].hash
	i := h & mask
	for x.tab[i] != 0 {
		i = (i + 1) & mask
	}
	x.tab[i] = indexEntry(si, h)
	x.n++
}

// forget takes slot si out of the index.
func (c *Batcher) forget(si int32) {
	x := &c.index
	mask := uint64(len(x.tab) - 1)
	i := c.slots[si].hash & mask
	for int32(uint32(x.tab[i])) != si {
		i = (i + 1) & mask
	}
	x.n--
	// Shift back each following entry that may sit at i: one whose home
	// is not cyclically in (i, j].
	for j := (i + 1) & mask; x.tab[j] != 0; j = (j + 1) & mask {
		home := c.slots[uint32(x.tab[j])].hash & mask
		if (j-home)&mask >= (j-i)&mask {
			x.tab[i] = x.tab[j]
			i = j
		}
	}
	x.tab[i] = 0
}

// idSet is a set of flow ids (never 0), open addressing likewise.
type idSet struct {
	tab []uint32
	n   int
}

// idHome is where id belongs in a table of mask+1: ids are hashes
// already, but neighbours (a taken id's next free one) should spread.
func idHome(id uint32, mask uint64) uint64 { return uint64(id*0x9e3779b1) & mask }

func (s *idSet) has(id uint32) bool {
	if len(s.tab) == 0 {
		return false
	}
	mask := uint64(len(s.tab) - 1)
	for i := idHome(id, mask); s.tab[i] != 0; i = (i + 1) & mask {
		if s.tab[i] == id {
			return true
		}
	}
	return false
}

// addFree adds id, or the next id after it that is neither 0 nor in the
// set, and returns what it added.
func (s *idSet) addFree(id uint32) uint32 {
	for id == 0 || s.has(id) {
		id++
	}
	if 2*(s.n+1) > len(s.tab) {
		old := s.tab
		s.tab, s.n = make([]uint32, max(64, 2*len(old))), 0
		for _, o := range old {
			if o != 0 {
				s.place(o)
			}
		}
	}
	s.place(id)
	return id
}

func (s *idSet) place(id uint32) {
	mask := uint64(len(s.tab) - 1)
	i := idHome(id, mask)
	for s.tab[i] != 0 {
		i = (i + 1) & mask
	}
	s.tab[i] = id
	s.n++
}

func (s *idSet) remove(id uint32) {
	if len(s.tab) == 0 || id == 0 {
		return
	}
	mask := uint64(len(s.tab) - 1)
	i := idHome(id, mask)
	for s.tab[i] != id {
		if s.tab[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	s.n--
	for j := (i + 1) & mask; s.tab[j] != 0; j = (j + 1) & mask {
		if home := idHome(s.tab[j], mask); (j-home)&mask >= (j-i)&mask {
			s.tab[i] = s.tab[j]
			i = j
		}
	}
	s.tab[i] = 0
}
