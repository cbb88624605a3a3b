CREATE TABLE `constraint_dimensions` (
	`name` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`description` text NOT NULL,
	`label_zh` text NOT NULL,
	`eval_count` integer NOT NULL,
	`position` integer NOT NULL,
	FOREIGN KEY (`type`) REFERENCES `constraint_types`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `constraint_dimensions_label_zh_unique` ON `constraint_dimensions` (`label_zh`);--> statement-breakpoint
CREATE INDEX `constraint_dimensions_type_idx` ON `constraint_dimensions` (`type`);--> statement-breakpoint
CREATE TABLE `constraint_types` (
	`name` text PRIMARY KEY NOT NULL,
	`description` text NOT NULL,
	`position` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`prefix` text NOT NULL,
	`hash` text NOT NULL,
	`scopes` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `keys_hash_unique` ON `keys` (`hash`);--> statement-breakpoint
CREATE INDEX `keys_revoked_idx` ON `keys` (`revoked_at`);