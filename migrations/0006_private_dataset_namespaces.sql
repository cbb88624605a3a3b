-- Private datasets' names move into their owner's namespace (the key id, or "admin" for the admin
-- token), so that a private name neither blocks nor reveals anything to other callers.
DROP INDEX `datasets_name_unique`;--> statement-breakpoint
ALTER TABLE `datasets` ADD `namespace` text DEFAULT '' NOT NULL;--> statement-breakpoint
UPDATE `datasets` SET `namespace` = coalesce(`owner_key_id`, 'admin') WHERE `visibility` = 'private';--> statement-breakpoint
CREATE UNIQUE INDEX `datasets_namespace_name_idx` ON `datasets` (`namespace`,`name`);
