/** Whether the process that left something behind (a socket, a targets file named by its pid) is still there. */

/** True while `pid` runs, whoever owns it (EPERM: another user's process, alive); false once it is gone. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
