// `codex-auth service install|uninstall`: puts codexd under the user's service manager.
// Linux: systemd user units (service-systemd.ts). macOS: a launchd agent (service-launchd.ts).
// Windows: a Task Scheduler task of the user's (service-windows.ts).
import { systemdSocketUnitPath } from '../autostart.js';
import { io, type Io, type ServiceOptions } from './service-files.js';
import { installLaunchd, uninstallLaunchd } from './service-launchd.js';
import { installSystemd, systemdExecWord, uninstallSystemd } from './service-systemd.js';
import { installTask, uninstallTask } from './service-windows.js';

export type { ServiceOptions };
/** The client's autostart stands aside when this unit exists, so it owns the path logic. */
export { systemdExecWord, systemdSocketUnitPath };

async function dispatch(opts: ServiceOptions, linux: (o: Io) => Promise<number>, mac: (o: Io) => Promise<number>, windows: (o: Io) => Promise<number>): Promise<number> {
  const o = io(opts);
  try {
    if (o.platform === 'linux') return await linux(o);
    if (o.platform === 'darwin') return await mac(o);
    if (o.platform === 'win32') return await windows(o);
    o.err(`codex-auth: there is no service installer for ${o.platform} yet; codex-auth starts codexd on demand`);
    return 1;
  } catch (error) {
    o.err(`codex-auth: ${(error as Error).message}`);
    return 1;
  }
}

export async function installService(opts: ServiceOptions): Promise<number> {
  return dispatch(opts, installSystemd, installLaunchd, installTask);
}

export async function uninstallService(opts: ServiceOptions): Promise<number> {
  return dispatch(opts, uninstallSystemd, uninstallLaunchd, uninstallTask);
}
