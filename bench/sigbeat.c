/*
 * sigbeat: the heartbeat receiver of bench/signals.sh, in C so that its
 * count is the kernel's: a plain handler counts each SIGUSR1 it runs for,
 * and nothing in between merges signals (Go's os/signal keeps one pending
 * bit per signal of its own). Prints "ready", counts until SIGTERM, then
 * prints "beats_counted N".
 */
#include <signal.h>
#include <stdio.h>

static volatile sig_atomic_t beats, done;

static void on_usr1(int sig) { (void)sig; beats++; }
static void on_term(int sig) { (void)sig; done = 1; }

int main(void) {
	struct sigaction sa = {0};
	sigset_t block, none;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &none);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!done)
		sigsuspend(&none); /* no signal lost between the test and the wait */
	printf("beats_counted %d\n", (int)beats);
	return 0;
}
