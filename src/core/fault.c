/* Crash isolation: hardware faults raised by a process's own code end that
 * process only.
 *
 * Every scheduler thread has an alternate signal stack, so a stack overflow
 * (which faults on the very stack a handler would use) is still caught.
 * The handler decides by the thread's in-runtime marker: a fault while the
 * marker is clear happened in process code, and the handler records the
 * reason and a backtrace. It does not jump out: it rewrites the interrupted
 * context to resume in fault_landing on a small per-thread landing stack and
 * returns, so the kernel's sigreturn restores the signal mask (the
 * siglongjmp rule) and tools that track signal handlers (ThreadSanitizer)
 * see it end. fault_landing then leaves the process for good, switching to
 * the scheduler. A fault with the marker set is the runtime's own: it
 * aborts the OS process, because a corrupt runtime must not limp on.
 */
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/internal.h"
#include "base/failpoint.h"

#define ALTSTACK_SIZE (64 * 1024)
#define LANDING_SIZE (32 * 1024)

/* SIGTRAP: __builtin_trap() raises it on AArch64 (SIGILL on x86-64). */
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
#define NSIG_FAULT (sizeof fault_signals / sizeof fault_signals[0])
static struct sigaction old_actions[NSIG_FAULT];
static size_t n_installed; /* handlers installed, in fault_signals order */
static __thread char *tls_landing_top;

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGFPE:
        return "SIGFPE";
    case SIGILL:
        return "SIGILL";
    case SIGTRAP:
        return "SIGTRAP";
    default:
        return "signal";
    }
}

static uintptr_t fault_pc(void *uctx)
{
    ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

/* Only async-signal-safe calls on the way to abort. */
static _Noreturn void runtime_fault(int sig, void *addr, uintptr_t pc)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf,
                     "grove: fatal %s at address %p (pc %#lx) inside the "
                     "runtime; aborting\n",
                     sig_name(sig), addr, (unsigned long)pc);
    if (n > 0)
        (void)!write(2, buf, (size_t)n);
    signal(SIGABRT, SIG_DFL);
    abort();
}

/* Runs on the landing stack after the handler returned: the process is
 * over, its stack is abandoned. */
static void fault_landing(void)
{
    grove__sched_t *s = grove__tls_get_sched();
    grove__proc_t *p = s->current;
    grove__fiber_switch(&p->fiber, &s->fiber, true);
    grove__panic("grove: a crashed process was resumed");
}

static bool redirect(void *uctx)
{
    ucontext_t *uc = uctx;
    uintptr_t top = (uintptr_t)tls_landing_top & ~(uintptr_t)15;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)fault_landing;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(top - 8); /* as if called */
    uc->uc_mcontext.gregs[REG_RBP] = 0;
    return true;
#elif defined(__aarch64__)
    uc->uc_mcontext.pc = (uintptr_t)fault_landing;
    uc->uc_mcontext.sp = top;
    uc->uc_mcontext.regs[29] = 0;
    uc->uc_mcontext.regs[30] = 0;
    return true;
#else
    (void)uc;
    (void)top;
    return false;
#endif
}

/* A fault on a thread that is not a scheduler belongs to the program, not
 * to Grove: hand it to whatever handled it before the runtime started. */
static void chain(int sig, siginfo_t *si, void *uctx)
{
    for (size_t i = 0; i < NSIG_FAULT; i++) {
        if (fault_signals[i] != sig)
            continue;
        struct sigaction *old = &old_actions[i];
        if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
            old->sa_sigaction(sig, si, uctx);
            return;
        }
        if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
            old->sa_handler(sig);
            return;
        }
    }
    /* Default action: returning re-executes the faulting instruction,
     * which now ends the OS process with the right signal. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    if (sig == SIGTRAP || si->si_code <= 0)
        raise(sig); /* not re-executed: a trap, or sent by kill() */
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
    grove__sched_t *s = grove__tls_get_sched();
    grove__proc_t *p = s ? s->current : NULL;
    uintptr_t pc = fault_pc(uctx);
    if (!s) {
        chain(sig, si, uctx);
        return;
    }
    if (!p || grove__tls_get_in_rt())
        runtime_fault(sig, si->si_addr, pc);
    grove_reason_t *r = &s->exit_reason;
    memset(r, 0, sizeof *r);
    r->kind = GROVE_EXIT_FAULT;
    r->code = sig;
    r->addr = (uint64_t)(uintptr_t)si->si_addr;
    if (sig == SIGSEGV && grove__stack_guard_hit(p->stack, si->si_addr))
        snprintf(r->text, sizeof r->text, "stack overflow (pc %#lx)",
                 (unsigned long)pc);
    else
        snprintf(r->text, sizeof r->text, "%s at %p (pc %#lx)",
                 sig_name(sig), si->si_addr, (unsigned long)pc);
    /* The unwinder steps through the signal frame into the process's own
     * frames; it was loaded at start so it does not allocate here. */
    s->crash_bt_len = backtrace(s->crash_bt, 32);
    p->crashed = true;
    p->request = REQ_EXIT;
    grove__tls_set_in_rt(1);
    if (redirect(uctx))
        return;
    /* No way to rewrite the context here: leave the handler directly and
     * unblock the signal by hand. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    fault_landing();
}

int grove__fault_init(void)
{
    void *warm[2];
    backtrace(warm, 2); /* load the unwinder now, not in a handler */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (n_installed = 0; n_installed < NSIG_FAULT; n_installed++)
        if (sigaction(fault_signals[n_installed], &sa,
                      &old_actions[n_installed]) != 0) {
            grove__fault_fini();
            return GROVE_ESYSCALL;
        }
    return 0;
}

void grove__fault_fini(void)
{
    while (n_installed > 0) {
        n_installed--;
        sigaction(fault_signals[n_installed], &old_actions[n_installed],
                  NULL);
    }
}

int grove__fault_thread_init(grove__sched_t *s)
{
    void *m = grove__mmap(NULL, ALTSTACK_SIZE + LANDING_SIZE,
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return GROVE_ENOMEM;
    stack_t ss = {.ss_sp = m, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(m, ALTSTACK_SIZE + LANDING_SIZE);
        return GROVE_ESYSCALL;
    }
    s->altstack = m;
    tls_landing_top = (char *)m + ALTSTACK_SIZE + LANDING_SIZE;
    return 0;
}

void grove__fault_thread_fini(grove__sched_t *s)
{
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    if (s->altstack)
        munmap(s->altstack, ALTSTACK_SIZE + LANDING_SIZE);
    s->altstack = NULL;
}

GROVE_EXPORT void grove_assert_fail(const char *expr, const char *file,
                                    int line)
{
    grove__proc_t *p = grove__current();
    if (!p || grove__tls_get_in_rt())
        grove__panic("grove: assertion failed outside a process: %s:%d: %s",
                     file, line, expr);
    RT_ENTER();
    grove__sched_t *s = grove__tls_get_sched();
    s->crash_bt_len = backtrace(s->crash_bt, 32);
    p->crashed = true;
    grove_reason_t r = grove_reason_of(GROVE_EXIT_ASSERT);
    snprintf(r.text, sizeof r.text, "%s:%d: %s", file, line, expr);
    grove__run_exit_hook(p, &r);
    p = grove__current();
    grove__exit_self(p, &r);
}

int grove__format_backtrace(void *const *bt, int n, char *buf, size_t size)
{
    size_t used = 0;
    char **syms = backtrace_symbols(bt, n);
    for (int i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s#%d %s", i ? "\n" : "",
                         i, syms ? syms[i] : "?");
        if (w < 0)
            break;
        used += (size_t)w;
    }
    free(syms);
    if (size)
        buf[used < size ? used : size - 1] = '\0';
    return (int)used;
}

void grove__crash_report(grove__sched_t *s, grove__proc_t *p)
{
    char pid[GROVE_PID_STR_MAX], reason[256], bt[4096], text[400];
    char extra[1024] = "";
    if (p->report_hook)
        p->report_hook(p->report_hook_arg, extra, sizeof extra);
    grove_pid_format(p->pid, pid, sizeof pid);
    char name[GROVE_NAME_MAX];
    grove__names_info(p, name, sizeof name);
    grove_reason_format(&s->exit_reason, reason, sizeof reason);
    bt[0] = '\0';
    if (s->crash_bt_len > 0)
        grove__format_backtrace(s->crash_bt, s->crash_bt_len, bt, sizeof bt);
    s->crash_bt_len = 0;
    snprintf(text, sizeof text, "process %s%s%s crashed: %s", pid,
             name[0] ? " " : "", name, reason);
    grove_log_field_t f[] = {{"pid", pid},
                             {"name", name},
                             {"reason", reason},
                             {"backtrace", bt},
                             {"server", extra}};
    grove_log_event(GROVE_LOG_ERROR, "crash_report", p->pid, text, f,
                    extra[0] ? 5 : 4);
}
