package event

import (
	"fmt"
	"math"
)

// HumanBytes prints a byte count with binary units (1536 → "1.5 KiB"), the
// one way stakeout shows sizes: status line, progress line and findings.
// A negative count (a corrupt file's) is shown with its sign.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < 0 {
		return "-" + HumanBytes(-max(n, -math.MaxInt64))
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
