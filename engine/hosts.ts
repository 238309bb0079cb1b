/**
 * Address helpers of the engine: resolving host names, validating ports and user parts,
 * formatting host:port. They live in `sip/address.ts`, below the `lines/` floor that uses them
 * too; this module re-exports them so engine code keeps its import path.
 * @module
 */
export { resolveHost, isPort, hostPort, isSipUser } from '../sip/address.js';
