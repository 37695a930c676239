// Store adapters for deliveryType "persistent_queue" (being written). Re-exported by every entry.
export {};
