import { fileURLToPath } from 'node:url';

// This app lives inside the aicostmanager-edge repository, which has other lockfiles: pin the root to this folder.
/** @type {import('next').NextConfig} */
const nextConfig = {
  turbopack: { root: fileURLToPath(new URL('.', import.meta.url)) },
};

export default nextConfig;
